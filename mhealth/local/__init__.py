"""The local AWS: LocalStack with the mhealth extension plus the Kaggle stand-in, on this host."""
