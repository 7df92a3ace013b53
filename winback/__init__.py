"""Winback: experimentation and uplift platform for e-commerce customer retention."""

__version__ = "0.1.0"
