"""The lowest layer: time, and other things every module may use. Imports nothing from app."""
