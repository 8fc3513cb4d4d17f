from shared.errors import Conflict, NotFound, Unprocessable


class ProductNotFound(NotFound):
    code = "product_not_found"


class SkuNotFound(NotFound):
    code = "sku_not_found"


class SkuCodeTaken(Conflict):
    """The supplier already uses this SKU code on another product."""

    code = "sku_code_taken"


class SkuSpecsInvalid(Unprocessable):
    """A SKU's specs do not match the product's spec names and values, or repeat another's."""

    code = "sku_specs_invalid"


class ProductReferenceInvalid(Unprocessable):
    """The category or brand named in the body does not exist."""

    code = "product_reference_invalid"
