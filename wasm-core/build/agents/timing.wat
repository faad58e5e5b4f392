(module
 (type $0 (func (param i32) (result i32)))
 (type $1 (func (result i32)))
 (global $assembly/agents/agent-layout/ABI_VERSION i32 (i32.const 1))
 (global $assembly/agents/agent-layout/inputAt (mut i32) (i32.const 0))
 (global $assembly/agents/agent-layout/outputAt (mut i32) (i32.const 0))
 (global $assembly/agents/agent-layout/capCandidates (mut i32) (i32.const 0))
 (global $assembly/agents/timing/CONTEXT i32 (i32.const 3))
 (global $assembly/agents/timing/FEATURES i32 (i32.const 1))
 (memory $0 0 1024)
 (export "CONTEXT" (global $assembly/agents/timing/CONTEXT))
 (export "FEATURES" (global $assembly/agents/timing/FEATURES))
 (export "configure" (func $assembly/agents/timing/configure))
 (export "score" (func $assembly/agents/timing/score))
 (export "ABI_VERSION" (global $assembly/agents/agent-layout/ABI_VERSION))
 (export "input" (func $assembly/agents/agent-layout/input))
 (export "output" (func $assembly/agents/agent-layout/output))
 (export "memory" (memory $0))
 (func $assembly/agents/timing/score (param $0 i32) (result i32)
  (local $1 i32)
  (local $2 i32)
  (local $3 f64)
  (local $4 f64)
  global.get $assembly/agents/agent-layout/capCandidates
  i32.eqz
  if
   i32.const -4
   return
  end
  local.get $0
  i32.const 0
  i32.lt_s
  local.get $0
  global.get $assembly/agents/agent-layout/capCandidates
  i32.gt_s
  i32.or
  if
   i32.const -3
   return
  end
  global.get $assembly/agents/agent-layout/inputAt
  f64.load
  local.set $3
  global.get $assembly/agents/agent-layout/inputAt
  f64.load offset=8
  local.set $4
  global.get $assembly/agents/agent-layout/outputAt
  f64.const 0.8
  f64.const 0.3
  global.get $assembly/agents/agent-layout/inputAt
  f64.load offset=16
  f64.const 0
  f64.ne
  select
  f64.store
  loop $for-loop|0
   local.get $0
   local.get $1
   i32.gt_s
   if
    global.get $assembly/agents/agent-layout/outputAt
    local.get $1
    i32.const 1
    i32.add
    local.tee $2
    i32.const 3
    i32.shl
    i32.add
    f64.const 1
    local.get $3
    global.get $assembly/agents/agent-layout/inputAt
    local.get $1
    i32.const 3
    i32.add
    i32.const 3
    i32.shl
    i32.add
    f64.load
    local.get $4
    f64.div
    f64.const 1
    f64.min
    f64.mul
    f64.sub
    f64.const 0
    f64.max
    f64.store
    local.get $2
    local.set $1
    br $for-loop|0
   end
  end
  i32.const 0
 )
 (func $assembly/agents/timing/configure (param $0 i32) (result i32)
  (local $1 i32)
  (local $2 i32)
  (local $3 i32)
  (local $4 i32)
  i32.const -1
  local.set $1
  block $__inlined_func$assembly/agents/agent-layout/configureLayout$6
   local.get $0
   i32.const 0
   i32.le_s
   local.get $0
   i32.const 65536
   i32.gt_s
   i32.or
   br_if $__inlined_func$assembly/agents/agent-layout/configureLayout$6
   i32.const 1024
   global.set $assembly/agents/agent-layout/inputAt
   local.get $0
   i32.const 3
   i32.shl
   local.tee $2
   i32.const 1063
   i32.add
   i32.const -16
   i32.and
   local.tee $3
   global.set $assembly/agents/agent-layout/outputAt
   i32.const -2
   local.set $1
   memory.size
   local.tee $4
   local.get $2
   local.get $3
   local.get $0
   i32.const 4
   i32.shl
   i32.add
   i32.const 23
   i32.add
   i32.const -16
   i32.and
   i32.add
   i32.const 527
   i32.add
   i32.const -16
   i32.and
   i32.const 65535
   i32.add
   i32.const 16
   i32.shr_u
   local.tee $2
   i32.lt_s
   if (result i32)
    local.get $2
    local.get $4
    i32.sub
    memory.grow
    i32.const 0
    i32.lt_s
   else
    i32.const 0
   end
   br_if $__inlined_func$assembly/agents/agent-layout/configureLayout$6
   local.get $0
   global.set $assembly/agents/agent-layout/capCandidates
   i32.const 0
   local.set $1
  end
  local.get $1
 )
 (func $assembly/agents/agent-layout/output (result i32)
  global.get $assembly/agents/agent-layout/outputAt
 )
 (func $assembly/agents/agent-layout/input (result i32)
  global.get $assembly/agents/agent-layout/inputAt
 )
)
