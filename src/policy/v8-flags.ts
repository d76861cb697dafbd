// V8 flags that must be set before Cedar's wasm runs hot: imported first by the Cedar adapter.
import { setFlagsFromString } from 'node:v8';

// Node 20 and Node 22's Maglev tier crash under sustained load mixing Cedar's wasm with
// JavaScript (V8 fatal "unreachable code" in Deoptimizer::DoComputeBuiltinContinuation,
// reproduced on Node 22.23 by the sweep benchmark). Without Maglev the crash does not occur;
// TurboFan still optimises hot code.
setFlagsFromString('--no-maglev');
