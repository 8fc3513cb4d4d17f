"""Categories: a tree with order and icons; public tree, staff CRUD."""
