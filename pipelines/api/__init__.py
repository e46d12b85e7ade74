"""The REST API of DESIGN §4: JSON in and out, bearer tokens, domain errors as JSON bodies."""
