"""Small helpers shared by every layer: registries, TF set-up, networks."""
