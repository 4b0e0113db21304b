"""The OpenAPI description of every route (`GET /openapi.json`), assembled from the fields each
route declares and the records' columns, so the description cannot drift from what is parsed.

May import: every package but the top's composition.
Public: `describe.spec`.
"""
