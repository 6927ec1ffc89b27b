"""Placeholder: replaced by the containers routes."""
from fastapi import APIRouter

router = APIRouter()
