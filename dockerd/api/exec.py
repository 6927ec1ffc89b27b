"""Placeholder: replaced by the exec routes."""
from fastapi import APIRouter

router = APIRouter()
