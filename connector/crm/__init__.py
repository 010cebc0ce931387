"""The CRM port: what capabilities may ask of a CRM, in the CRM's neutral terms."""
