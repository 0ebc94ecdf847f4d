"""Binance spot WebSocket API signatures against the official worked examples
(binance-spot-api-docs web-socket-api.md § SIGNED request example (HMAC), checked 2026-12-01)."""

from __future__ import annotations

from hftctl.exchanges.binance.common.signing import ws_api_payload, ws_api_signature, ws_api_signature_ok

SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
# The request's params in the order the doc writes them (not sorted): the signer must sort.
ASCII = {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01000000",
         "price": "52000.00", "recvWindow": 100, "timestamp": 1645423376532, "apiKey": API_KEY}
UNICODE = {**ASCII, "symbol": "１２３４５６", "side": "BUY", "quantity": "1.00000000", "price": "0.10000000",
           "recvWindow": 5000}


def test_the_docs_hmac_example_payload_and_signature():
    assert ws_api_payload(ASCII) == (
        f"apiKey={API_KEY}&price=52000.00&quantity=0.01000000&recvWindow=100&side=SELL&symbol=BTCUSDT"
        "&timeInForce=GTC&timestamp=1645423376532&type=LIMIT")
    assert ws_api_signature(SECRET, ASCII) == "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"


def test_the_docs_non_ascii_example_is_signed_without_percent_encoding():
    assert "symbol=１２３４５６&" in ws_api_payload(UNICODE)
    assert ws_api_signature(SECRET, UNICODE) == "b33892ae8e687c939f4468c6268ddd4c40ac1af18ad19a064864c47bae0752cd"


def test_verification_ignores_the_signature_param_and_hex_case():
    signed = {**ASCII, "signature": "AA1B5712C094BC4E57C05A1A5C1FD8D88DCD628338EA863FEC7B88E59FE2DB24"}
    assert ws_api_signature_ok(SECRET, signed)                      # HMAC hex is not case-sensitive
    assert not ws_api_signature_ok(SECRET, {**signed, "price": "52000.01"})
    assert not ws_api_signature_ok(SECRET, ASCII)                   # no signature at all
