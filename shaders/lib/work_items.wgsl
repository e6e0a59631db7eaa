// work_items.wgsl: library (placed before the kernel, whose directives it carries) for kernels
// whose work is a list of independent items taken one per subgroup at a time from a counter,
// rather than one item per workgroup.
//
// Why: lavapipe splits every dispatch into one fixed share of workgroups per thread, so the
// dispatch ends with its slowest thread, and a thread that shares its core with anything else
// (the host thread, a busy neighbour on a shared VM) holds the other back. With items taken
// from a counter, a faster thread takes more of them. The including kernel declares
//   var<storage, read_write> work: array<atomic<u32>>;
// and gets the dispatch's counter slot from the host (Gpu.workCounter: zero when the dispatch
// starts). Its main loop is
//   loop { let item = next_item(p.slot, sid); if (item >= items) { break; } ... }
// Every lane of the subgroup gets the same item, so the subgroup operations inside the loop
// run in subgroup-uniform control flow, which the uniformity analysis cannot see: hence the
// subgroup_uniformity diagnostic off below, for the whole module. The workgroup count only
// bounds the parallelism; a subgroup that finds no item left returns.

enable subgroups;
diagnostic(off, subgroup_uniformity);

// Lane 0 takes the next item of the dispatch's counter; every lane of the subgroup gets it.
fn next_item(slot: u32, sid: u32) -> u32 {
  var taken = 0u;
  if (sid == 0u) { taken = atomicAdd(&work[slot], 1u); }
  return subgroupBroadcast(taken, 0u);
}
