"""Files the office opens in Word and Excel: the report workbook and printable invitation slips.

Builders take plain values and return bytes, so the CLI writes them to disk and the bot sends
them in chat without either knowing the format.
"""
