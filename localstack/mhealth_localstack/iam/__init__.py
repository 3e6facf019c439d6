"""IAM on the local stage: policy evaluation, request-to-action mapping, gateway enforcement."""
