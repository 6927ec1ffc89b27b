"""Placeholder: replaced by the system routes."""
from fastapi import APIRouter

router = APIRouter()
