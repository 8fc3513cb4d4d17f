"""Products (SPU) and their SKUs: staff CRUD, supplier upserts by their own codes, search
columns derived on every write, ``catalog.product_changed`` on every edit."""
