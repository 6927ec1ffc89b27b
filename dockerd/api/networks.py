"""Placeholder: replaced by the networks routes."""
from fastapi import APIRouter

router = APIRouter()
