// V8 flags that must be set before Cedar's wasm runs hot: imported first by the Cedar adapter.
import { setFlagsFromString } from 'node:v8';

// Node 20 and 22 die under sustained load mixing Cedar's wasm with JavaScript (V8 fatal
// "unreachable code" in Deoptimizer::DoComputeBuiltinContinuation). Turning Maglev off made the
// sweep benchmark's crash rarer on Node 22.23 but not the soak's, so Mandate runs on Node 24,
// where the soak runs clean with this flag set. It stays: that is the configuration we tested,
// and TurboFan still optimises hot code.
setFlagsFromString('--no-maglev');
