"""Answers serialised once.

A route that returns a pydantic model has FastAPI validate it again against the
route's response model before serialising it: for a claim of a hundred jobs that
is a second pass over every row. The hot worker routes build their model, declare
it as `response_model` (so the OpenAPI document is unchanged) and return it as JSON
through this.
"""

from __future__ import annotations

from fastapi import Response
from pydantic import BaseModel


class ModelResponse(Response):
    media_type = "application/json"

    def __init__(self, model: BaseModel, status_code: int = 200) -> None:
        # by_alias, as FastAPI serialises a returned model.
        super().__init__(model.__pydantic_serializer__.to_json(model, by_alias=True), status_code)
