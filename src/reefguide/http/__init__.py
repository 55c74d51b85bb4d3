"""HTTP plumbing shared by every domain: middleware, error rendering, health, OpenAPI."""
