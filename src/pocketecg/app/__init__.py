"""The phone app: a web page that classifies an ECG on the device, and the HTTP server that delivers it.

`web/` is the page (plain ES modules, no build step beyond copying onnxruntime-web from npm into
`web/vendor/`, which `make web` does). `server.py` serves it, the model file, example records and
`POST /api/predict` for clients that prefer to send the file.
"""
