"""Who is calling and what they may do: roles and the caller (`Principal`), stored API keys, Bearer
JWTs from an OIDC issuer, the auth and rate-limit middleware, the audit log, the admin API
(`/admin/keys`, `/admin/audit`), and `Endpoint`, which checks a route's permission before its
handler runs.

May import: the top's leaves, observability, db.
Public: `roles.Permission`, `roles.Principal`, `roles.ADMIN`, `roles.USER`, `roles.ROLES`,
`auth.principal`, `auth.audit_event`, `auth.Keys`, `auth.AuthMiddleware`, `endpoint.Endpoint`,
`keys.KeyStore`, `keys.KeyExists`, `keys.NAME`, `keys.NAME_RULE`, `keys.RATE_LIMIT_RULE`,
`keys.hash_key`, `keys.new_key`, `keys.parse_rate_limit`, `keys.rate_limit_text`,
`audit.AuditLog`, `audit.Event`, `audit.ACTIONS`, `audit.KEY_CREATE`, `audit.KEY_REVOKE`,
`audit.RECORD_DELETE`, `tokens.Tokens`, `ratelimit.Limiter`, `ratelimit.RateLimitMiddleware`,
`admin` (its ROUTES and fields).
"""
