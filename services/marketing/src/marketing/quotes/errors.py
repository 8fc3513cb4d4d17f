from shared.errors import Unprocessable


class QuoteSkuUnknown(Unprocessable):
    code = "sku_unavailable"
