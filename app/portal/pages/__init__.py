"""The portal's pages, one module a section; each registers its routes on the portal blueprint."""
