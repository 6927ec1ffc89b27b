"""Placeholder: replaced by the images routes."""
from fastapi import APIRouter

router = APIRouter()
