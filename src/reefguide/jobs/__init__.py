"""The job platform: job types, the queue, caching, routes."""
