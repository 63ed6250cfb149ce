"""Loading and validating chatkit.yaml: the models (the schema's one source), the YAML readers with
positions, `${VAR}` expansion, the cross-reference checks and the generated reference.

May import: `errors`, `refs` and `context` only — configuration is data and knows nothing of what is
built from it.
"""
