#!/bin/bash
# A model whose GGUF has a vision tower (here: stories260K with `llama.vision.block_count` added,
# as Ollama's gemma3/llama3.2-vision files carry) lists the "vision" capability like Ollama, but
# corral's engine has no image encoder: a request with images must be refused with a clear 400
# on /api/generate, /api/chat and /v1/chat/completions, never answered with the images dropped.
# The same model still answers text.
set -eu
source tests/integration/serve_lib.bash
serve_setup
python3 - "$PWD/testdata/models/stories260K.gguf" "$TMPDIR_TEST/vis.gguf" <<'PY'
import struct, sys
src = open(sys.argv[1], "rb").read()
pos = 0
def take(fmt):
    global pos
    v = struct.unpack_from("<" + fmt, src, pos)
    pos += struct.calcsize("<" + fmt)
    return v[0]
def skip_str():
    global pos
    n = take("Q"); pos += n
SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
def skip_val(t):
    global pos
    if t == 8: skip_str()
    elif t == 9:
        et = take("I"); n = take("Q")
        for _ in range(n):
            skip_val(et)
    else: pos += SIZES[t]
assert src[:4] == b"GGUF"
pos = 4
ver = take("I"); nt = take("Q"); nkv = take("Q")
kv0 = pos
align = 32
for _ in range(nkv):
    kl = take("Q"); key = src[pos:pos + kl]; pos += kl
    t = take("I")
    if key == b"general.alignment": align = struct.unpack_from("<I", src, pos)[0]
    skip_val(t)
kv1 = pos
for _ in range(nt):
    skip_str(); nd = take("I"); pos += 8 * nd + 4 + 8
ti1 = pos
data = (ti1 + align - 1) // align * align
key = b"llama.vision.block_count"
extra = struct.pack("<Q", len(key)) + key + struct.pack("<II", 4, 2)
head = src[:4] + struct.pack("<IQQ", ver, nt, nkv + 1) + src[kv0:kv1] + extra + src[kv1:ti1]
head += b"\0" * ((-len(head)) % align)
open(sys.argv[2], "wb").write(head + src[data:])
PY
serve_start
printf 'FROM %s\n' "$TMPDIR_TEST/vis.gguf" >"$TMPDIR_TEST/Modelfile"
"$CORRAL_BIN_ABS" create vis -f "$TMPDIR_TEST/Modelfile" >/dev/null 2>&1 || fail "create"

code=$(post /api/show '{"model":"vis"}')
[ "$code" = 200 ] && grep -q '"vision"' "$TMPDIR_TEST/r" || fail "show: $code $(cat "$TMPDIR_TEST/r")"
code=$(post /api/generate '{"model":"vis","prompt":"what is this","images":["iVBORw0KGgo="],"stream":false}')
[ "$code" = 400 ] && grep -q 'images are not supported yet' "$TMPDIR_TEST/r" ||
    fail "generate with images: $code $(cat "$TMPDIR_TEST/r")"
code=$(post /api/chat '{"model":"vis","messages":[{"role":"user","content":"what","images":["iVBORw0KGgo="]}],"stream":false}')
[ "$code" = 400 ] && grep -q 'images are not supported yet' "$TMPDIR_TEST/r" ||
    fail "chat with images: $code $(cat "$TMPDIR_TEST/r")"
code=$(post /v1/chat/completions '{"model":"vis","messages":[{"role":"user","content":[{"type":"text","text":"what"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]}]}')
[ "$code" = 400 ] && grep -q 'images are not supported yet' "$TMPDIR_TEST/r" ||
    fail "openai chat with images: $code $(cat "$TMPDIR_TEST/r")"
# text still works on the same model
code=$(post /api/generate '{"model":"vis","prompt":"Once upon a time","stream":false,"options":{"num_predict":8}}')
[ "$code" = 200 ] && grep -q '"done":true' "$TMPDIR_TEST/r" || fail "text: $code $(cat "$TMPDIR_TEST/r")"
echo ok
