"""Blueprints by audience: growth (experiments, overview, launch, results), finance, strategy, models, and the API."""
