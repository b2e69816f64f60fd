"""The `booking` service's operations (declared here, registered on import)."""
