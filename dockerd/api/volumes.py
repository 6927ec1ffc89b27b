"""Placeholder: replaced by the volumes routes."""
from fastapi import APIRouter

router = APIRouter()
