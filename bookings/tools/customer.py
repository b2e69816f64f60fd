"""The `customer` service's operations (declared here, registered on import)."""
