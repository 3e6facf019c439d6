"""The download step on AWS (Lambda): Kaggle edge, archive checks, upload to ``raw/``."""
