"""Authentication: passwords, access tokens and JWKS, refresh tokens, API keys, roles."""
