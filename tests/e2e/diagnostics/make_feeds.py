"""Fixed inputs for the WebGPU determinism diagnostics: writes <model>.json feeds (base64 raw tensors)
into $DIAG_SCRATCH/feeds, computed once with onnxruntime (CPU) so every model gets realistic inputs."""
import base64, json, os, sys
import numpy as np
import onnxruntime as ort

root = os.path.abspath(os.path.join(os.path.dirname(__file__), '../../..'))
models = os.path.join(root, 'public/models/onestep-emoji')
out = os.path.join(os.environ.get('DIAG_SCRATCH', '/tmp/onestep-diag'), 'feeds')
os.makedirs(out, exist_ok=True)
man = json.load(open(os.path.join(models, 'manifest.json')))

def spec(a):
    return {'type': {np.dtype('float32'): 'float32', np.dtype('int64'): 'int64'}[a.dtype], 'dims': list(a.shape),
            'b64': base64.b64encode(np.ascontiguousarray(a).tobytes()).decode()}

def sess(name):
    return ort.InferenceSession(os.path.join(models, name, 'model.onnx'), providers=['CPUExecutionProvider'])

ids = np.zeros((1, 20), np.int64); ids[0, :4] = [101, 2417, 6207, 102]  # "[CLS] red apple [SEP]"
emb = sess('text_encoder').run(None, {'input_ids': ids})[0]
rng = np.random.default_rng(7)
sample = rng.standard_normal((1, 4, 16, 16)).astype(np.float32)
t = np.array([999], np.int64)
eps = sess('unet').run(None, {'sample': sample, 'timestep': t, 'encoder_hidden_states': emb})[0]
ab = man['one_step']['alpha_bar']
x0 = ((sample.astype(np.float64) - np.sqrt(1 - ab) * eps) / np.sqrt(ab)).astype(np.float32)
lat = (x0 / man['vae']['scaling_factor']).astype(np.float32)
feeds = {
    'text_encoder': {'input_ids': ids},
    'unet': {'sample': sample, 'timestep': t, 'encoder_hidden_states': emb},
    'vae_decoder': {'latent_sample': lat},
}
for k, v in feeds.items():
    json.dump({n: spec(a) for n, a in v.items()}, open(os.path.join(out, k + '.json'), 'w'))
    np.savez(os.path.join(out, k + '.npz'), **v)
print('wrote', out)
