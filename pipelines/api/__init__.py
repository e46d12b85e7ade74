"""The REST API of docs/api.md: JSON in and out, bearer tokens, domain errors as JSON bodies."""
