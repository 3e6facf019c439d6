"""Wire protocols: requests in a service's newer protocol served next to its bundled one."""
