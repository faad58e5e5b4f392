(module
 (type $0 (func (result i32)))
 (type $1 (func (param i32 i32 i32 i32)))
 (type $2 (func (param i32 i32)))
 (type $3 (func (param i32 f32 i32) (result i32)))
 (type $4 (func (param i32 i32 i32 f32 i32) (result i32)))
 (type $5 (func (param i32) (result i32)))
 (type $6 (func (param i32 i32 i32) (result i32)))
 (type $7 (func (param i32 i32 i32 f32 f32 i32 i32 i32) (result i32)))
 (global $assembly/layout/MAX_ADS i32 (i32.const 16))
 (global $assembly/layout/configured (mut i32) (i32.const 0))
 (global $assembly/layout/capCandidates (mut i32) (i32.const 0))
 (global $assembly/layout/capDimensions (mut i32) (i32.const 0))
 (global $assembly/layout/capAgents (mut i32) (i32.const 0))
 (global $assembly/layout/oEmbeddings (mut i32) (i32.const 0))
 (global $assembly/layout/oDuration (mut i32) (i32.const 0))
 (global $assembly/layout/oAdvertiser (mut i32) (i32.const 0))
 (global $assembly/layout/oCategory (mut i32) (i32.const 0))
 (global $assembly/layout/oIntent (mut i32) (i32.const 0))
 (global $assembly/layout/oWeights (mut i32) (i32.const 0))
 (global $assembly/layout/oConfidence (mut i32) (i32.const 0))
 (global $assembly/layout/oScores (mut i32) (i32.const 0))
 (global $assembly/layout/oVeto (mut i32) (i32.const 0))
 (global $assembly/layout/oBid (mut i32) (i32.const 0))
 (global $assembly/layout/oPResponse (mut i32) (i32.const 0))
 (global $assembly/layout/oRelevance (mut i32) (i32.const 0))
 (global $assembly/layout/oQuality (mut i32) (i32.const 0))
 (global $assembly/layout/oValue (mut i32) (i32.const 0))
 (global $assembly/layout/oRank (mut i32) (i32.const 0))
 (global $assembly/layout/oOrder (mut i32) (i32.const 0))
 (global $assembly/layout/oTop (mut i32) (i32.const 0))
 (global $assembly/layout/oOutHeader (mut i32) (i32.const 0))
 (global $assembly/layout/oOutIndex (mut i32) (i32.const 0))
 (global $assembly/layout/oOutPrice (mut i32) (i32.const 0))
 (global $assembly/layout/oOutRank (mut i32) (i32.const 0))
 (global $assembly/layout/oOutQuality (mut i32) (i32.const 0))
 (global $assembly/layout/oOutRelevance (mut i32) (i32.const 0))
 (global $assembly/layout/oOutContribution (mut i32) (i32.const 0))
 (global $assembly/layout/oEnd (mut i32) (i32.const 0))
 (global $assembly/pod/shortestEligibleMs (mut i32) (i32.const 0))
 (global $assembly/pod/cursorPosition (mut i32) (i32.const 0))
 (global $assembly/pod/cursorTop (mut i32) (i32.const 0))
 (global $assembly/pod/cursorEligible (mut i32) (i32.const 0))
 (global $assembly/pod/cursorHeapSize (mut i32) (i32.const -1))
 (global $assembly/kernel/ABI_VERSION i32 (i32.const 1))
 (global $assembly/kernel/KERNEL_SIMD i32 (i32.const 1))
 (memory $0 0 4096)
 (export "ABI_VERSION" (global $assembly/kernel/ABI_VERSION))
 (export "KERNEL_SIMD" (global $assembly/kernel/KERNEL_SIMD))
 (export "decide" (func $assembly/kernel/decide))
 (export "MAX_ADS" (global $assembly/layout/MAX_ADS))
 (export "configure" (func $assembly/layout/configure))
 (export "regionOffset" (func $assembly/layout/regionOffset))
 (export "memory" (memory $0))
 (func $assembly/pod/siftDown (param $0 i32) (param $1 i32) (param $2 i32) (param $3 i32)
  (local $4 i32)
  (local $5 i32)
  (local $6 i32)
  (local $7 f32)
  (local $8 i32)
  (local $9 f32)
  local.get $0
  local.get $1
  i32.const 2
  i32.shl
  i32.add
  i32.load
  local.set $8
  loop $for-loop|0
   block $for-break0
    local.get $1
    i32.const 1
    i32.shl
    i32.const 1
    i32.add
    local.tee $4
    local.get $2
    i32.ge_s
    br_if $for-break0
    local.get $0
    local.get $4
    i32.const 2
    i32.shl
    i32.add
    i32.load
    local.set $5
    local.get $4
    i32.const 1
    i32.add
    local.tee $6
    local.get $2
    i32.lt_s
    if
     local.get $0
     local.get $6
     i32.const 2
     i32.shl
     i32.add
     i32.load
     local.set $6
     local.get $3
     if (result i32)
      local.get $5
      local.get $6
      i32.gt_s
      global.get $assembly/layout/oRank
      local.get $6
      i32.const 2
      i32.shl
      i32.add
      f32.load
      local.tee $7
      global.get $assembly/layout/oRank
      local.get $5
      i32.const 2
      i32.shl
      i32.add
      f32.load
      local.tee $9
      f32.eq
      i32.and
      local.get $7
      local.get $9
      f32.gt
      i32.or
     else
      local.get $5
      local.get $6
      i32.lt_s
      global.get $assembly/layout/oRank
      local.get $5
      i32.const 2
      i32.shl
      i32.add
      f32.load
      local.tee $7
      global.get $assembly/layout/oRank
      local.get $6
      i32.const 2
      i32.shl
      i32.add
      f32.load
      local.tee $9
      f32.eq
      i32.and
      local.get $7
      local.get $9
      f32.gt
      i32.or
     end
     if
      local.get $6
      local.set $5
      local.get $4
      i32.const 1
      i32.add
      local.set $4
     end
    end
    local.get $3
    if (result i32)
     local.get $5
     local.get $8
     i32.lt_s
     global.get $assembly/layout/oRank
     local.get $5
     i32.const 2
     i32.shl
     i32.add
     f32.load
     local.tee $7
     global.get $assembly/layout/oRank
     local.get $8
     i32.const 2
     i32.shl
     i32.add
     f32.load
     local.tee $9
     f32.eq
     i32.and
     local.get $7
     local.get $9
     f32.gt
     i32.or
    else
     local.get $5
     local.get $8
     i32.gt_s
     global.get $assembly/layout/oRank
     local.get $8
     i32.const 2
     i32.shl
     i32.add
     f32.load
     local.tee $7
     global.get $assembly/layout/oRank
     local.get $5
     i32.const 2
     i32.shl
     i32.add
     f32.load
     local.tee $9
     f32.eq
     i32.and
     local.get $7
     local.get $9
     f32.gt
     i32.or
    end
    i32.eqz
    br_if $for-break0
    local.get $0
    local.get $1
    i32.const 2
    i32.shl
    i32.add
    local.get $5
    i32.store
    local.get $4
    local.set $1
    br $for-loop|0
   end
  end
  local.get $0
  local.get $1
  i32.const 2
  i32.shl
  i32.add
  local.get $8
  i32.store
 )
 (func $assembly/pod/popHeap (result i32)
  (local $0 i32)
  (local $1 i32)
  global.get $assembly/layout/oOrder
  local.tee $0
  i32.load
  global.get $assembly/pod/cursorHeapSize
  i32.const 1
  i32.sub
  global.set $assembly/pod/cursorHeapSize
  global.get $assembly/pod/cursorHeapSize
  i32.const 0
  i32.gt_s
  if
   local.get $0
   global.get $assembly/layout/oOrder
   global.get $assembly/pod/cursorHeapSize
   i32.const 2
   i32.shl
   i32.add
   i32.load
   i32.store
   global.get $assembly/layout/oOrder
   i32.const 0
   global.get $assembly/pod/cursorHeapSize
   i32.const 1
   call $assembly/pod/siftDown
  end
 )
 (func $assembly/pod/nextInOrder (result i32)
  (local $0 i32)
  (local $1 i32)
  global.get $assembly/pod/cursorPosition
  local.tee $0
  global.get $assembly/pod/cursorEligible
  i32.ge_s
  if
   i32.const -1
   return
  end
  local.get $0
  i32.const 1
  i32.add
  global.set $assembly/pod/cursorPosition
  local.get $0
  global.get $assembly/pod/cursorTop
  i32.lt_s
  if
   global.get $assembly/layout/oTop
   local.get $0
   i32.const 2
   i32.shl
   i32.add
   i32.load
   return
  end
  global.get $assembly/pod/cursorHeapSize
  i32.const 0
  i32.lt_s
  if
   global.get $assembly/pod/cursorEligible
   global.set $assembly/pod/cursorHeapSize
   global.get $assembly/pod/cursorHeapSize
   i32.const 1
   i32.shr_s
   i32.const 1
   i32.sub
   local.set $0
   loop $for-loop|0
    local.get $0
    i32.const 0
    i32.ge_s
    if
     global.get $assembly/layout/oOrder
     local.get $0
     global.get $assembly/pod/cursorHeapSize
     i32.const 1
     call $assembly/pod/siftDown
     local.get $0
     i32.const 1
     i32.sub
     local.set $0
     br $for-loop|0
    end
   end
   loop $for-loop|1
    local.get $1
    global.get $assembly/pod/cursorTop
    i32.lt_s
    if
     call $assembly/pod/popHeap
     drop
     local.get $1
     i32.const 1
     i32.add
     local.set $1
     br $for-loop|1
    end
   end
  end
  call $assembly/pod/popHeap
 )
 (func $assembly/scoring/computeRelevance (param $0 i32) (param $1 i32)
  (local $2 v128)
  (local $3 i32)
  (local $4 i32)
  (local $5 i32)
  (local $6 v128)
  (local $7 v128)
  (local $8 v128)
  (local $9 v128)
  (local $10 i32)
  (local $11 i32)
  (local $12 i32)
  local.get $1
  i32.const 2
  i32.shl
  local.set $3
  global.get $assembly/layout/oEmbeddings
  local.set $5
  loop $for-loop|0
   local.get $4
   i32.const 3
   i32.add
   local.get $0
   i32.lt_s
   if
    local.get $3
    local.get $5
    i32.add
    local.tee $10
    local.get $3
    i32.add
    local.tee $11
    local.get $3
    i32.add
    local.set $12
    v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000
    local.set $6
    v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000
    local.set $7
    v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000
    local.set $8
    v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000
    local.set $2
    i32.const 0
    local.set $1
    loop $for-loop|1
     local.get $1
     local.get $3
     i32.lt_u
     if
      local.get $6
      global.get $assembly/layout/oIntent
      local.get $1
      i32.add
      v128.load
      local.tee $9
      local.get $1
      local.get $5
      i32.add
      v128.load
      f32x4.mul
      f32x4.add
      local.set $6
      local.get $7
      local.get $9
      local.get $1
      local.get $10
      i32.add
      v128.load
      f32x4.mul
      f32x4.add
      local.set $7
      local.get $8
      local.get $9
      local.get $1
      local.get $11
      i32.add
      v128.load
      f32x4.mul
      f32x4.add
      local.set $8
      local.get $2
      local.get $9
      local.get $1
      local.get $12
      i32.add
      v128.load
      f32x4.mul
      f32x4.add
      local.set $2
      local.get $1
      i32.const 16
      i32.add
      local.set $1
      br $for-loop|1
     end
    end
    global.get $assembly/layout/oRelevance
    local.get $4
    i32.const 2
    i32.shl
    i32.add
    local.tee $1
    local.get $6
    f32x4.extract_lane 0
    local.get $6
    f32x4.extract_lane 1
    f32.add
    local.get $6
    f32x4.extract_lane 2
    local.get $6
    f32x4.extract_lane 3
    f32.add
    f32.add
    f32.store
    local.get $1
    local.get $7
    f32x4.extract_lane 0
    local.get $7
    f32x4.extract_lane 1
    f32.add
    local.get $7
    f32x4.extract_lane 2
    local.get $7
    f32x4.extract_lane 3
    f32.add
    f32.add
    f32.store offset=4
    local.get $1
    local.get $8
    f32x4.extract_lane 0
    local.get $8
    f32x4.extract_lane 1
    f32.add
    local.get $8
    f32x4.extract_lane 2
    local.get $8
    f32x4.extract_lane 3
    f32.add
    f32.add
    f32.store offset=8
    local.get $1
    local.get $2
    f32x4.extract_lane 0
    local.get $2
    f32x4.extract_lane 1
    f32.add
    local.get $2
    f32x4.extract_lane 2
    local.get $2
    f32x4.extract_lane 3
    f32.add
    f32.add
    f32.store offset=12
    local.get $3
    local.get $12
    i32.add
    local.set $5
    local.get $4
    i32.const 4
    i32.add
    local.set $4
    br $for-loop|0
   end
  end
  loop $for-loop|2
   local.get $0
   local.get $4
   i32.gt_s
   if
    v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000
    local.set $2
    i32.const 0
    local.set $1
    loop $for-loop|3
     local.get $1
     local.get $3
     i32.lt_u
     if
      local.get $2
      global.get $assembly/layout/oIntent
      local.get $1
      i32.add
      v128.load
      local.get $1
      local.get $5
      i32.add
      v128.load
      f32x4.mul
      f32x4.add
      local.set $2
      local.get $1
      i32.const 16
      i32.add
      local.set $1
      br $for-loop|3
     end
    end
    global.get $assembly/layout/oRelevance
    local.get $4
    i32.const 2
    i32.shl
    i32.add
    local.get $2
    f32x4.extract_lane 0
    local.get $2
    f32x4.extract_lane 1
    f32.add
    local.get $2
    f32x4.extract_lane 2
    local.get $2
    f32x4.extract_lane 3
    f32.add
    f32.add
    f32.store
    local.get $3
    local.get $5
    i32.add
    local.set $5
    local.get $4
    i32.const 1
    i32.add
    local.set $4
    br $for-loop|2
   end
  end
 )
 (func $assembly/pod/collectEligible (param $0 i32) (param $1 f32) (param $2 i32) (result i32)
  (local $3 i32)
  (local $4 i32)
  (local $5 v128)
  (local $6 i32)
  (local $7 v128)
  (local $8 v128)
  (local $9 v128)
  (local $10 i32)
  (local $11 i32)
  (local $12 v128)
  (local $13 i32)
  i32.const 2147483647
  global.set $assembly/pod/shortestEligibleMs
  local.get $1
  f32x4.splat
  local.set $7
  local.get $2
  i32x4.splat
  local.set $8
  v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff
  local.set $5
  loop $for-loop|0
   local.get $4
   i32.const 3
   i32.add
   local.tee $10
   local.get $0
   i32.lt_s
   if
    local.get $6
    local.get $4
    i32.const 2
    i32.shl
    local.tee $11
    global.get $assembly/layout/oVeto
    i32.add
    v128.load
    v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000
    i32x4.ne
    local.tee $9
    i32x4.bitmask
    i32.popcnt
    i32.add
    local.set $6
    global.get $assembly/layout/oQuality
    local.get $11
    i32.add
    v128.load
    v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000
    f32x4.gt
    local.get $9
    v128.andnot
    global.get $assembly/layout/oValue
    local.get $11
    i32.add
    v128.load
    local.get $7
    f32x4.ge
    v128.and
    global.get $assembly/layout/oRank
    local.get $11
    i32.add
    v128.load
    v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000
    f32x4.gt
    v128.and
    global.get $assembly/layout/oDuration
    local.get $11
    i32.add
    v128.load
    local.tee $12
    local.get $8
    i32x4.le_s
    v128.and
    local.set $9
    local.get $5
    local.get $12
    v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff
    local.get $9
    v128.bitselect
    i32x4.min_s
    local.set $5
    global.get $assembly/layout/oOrder
    local.get $3
    i32.const 2
    i32.shl
    i32.add
    local.get $4
    i32.store
    global.get $assembly/layout/oOrder
    local.get $3
    local.get $9
    i32x4.bitmask
    local.tee $3
    i32.const 1
    i32.and
    i32.add
    local.tee $11
    i32.const 2
    i32.shl
    i32.add
    local.get $4
    i32.const 1
    i32.add
    i32.store
    global.get $assembly/layout/oOrder
    local.get $11
    local.get $3
    i32.const 1
    i32.shr_s
    i32.const 1
    i32.and
    i32.add
    local.tee $11
    i32.const 2
    i32.shl
    i32.add
    local.get $4
    i32.const 2
    i32.add
    i32.store
    global.get $assembly/layout/oOrder
    local.get $11
    local.get $3
    i32.const 2
    i32.shr_s
    i32.const 1
    i32.and
    i32.add
    local.tee $11
    i32.const 2
    i32.shl
    i32.add
    local.get $10
    i32.store
    local.get $11
    local.get $3
    i32.const 3
    i32.shr_s
    i32.add
    local.set $3
    local.get $4
    i32.const 4
    i32.add
    local.set $4
    br $for-loop|0
   end
  end
  local.get $5
  i32x4.extract_lane 0
  local.tee $10
  local.get $5
  i32x4.extract_lane 1
  local.tee $11
  local.get $10
  local.get $11
  i32.lt_s
  select
  local.tee $11
  local.get $5
  i32x4.extract_lane 2
  local.tee $10
  local.get $5
  i32x4.extract_lane 3
  local.tee $13
  local.get $10
  local.get $13
  i32.lt_s
  select
  local.tee $10
  local.get $10
  local.get $11
  i32.gt_s
  select
  global.set $assembly/pod/shortestEligibleMs
  loop $for-loop|1
   local.get $0
   local.get $4
   i32.gt_s
   if
    local.get $6
    local.get $4
    i32.const 2
    i32.shl
    local.tee $10
    global.get $assembly/layout/oVeto
    i32.add
    i32.load
    i32.eqz
    local.tee $11
    i32.eqz
    i32.add
    local.set $6
    local.get $11
    global.get $assembly/layout/oQuality
    local.get $10
    i32.add
    f32.load
    f32.const 0
    f32.gt
    i32.and
    global.get $assembly/layout/oValue
    local.get $10
    i32.add
    f32.load
    local.get $1
    f32.ge
    i32.and
    global.get $assembly/layout/oRank
    local.get $10
    i32.add
    f32.load
    f32.const 0
    f32.gt
    i32.and
    global.get $assembly/layout/oDuration
    local.get $10
    i32.add
    i32.load
    local.get $2
    i32.le_s
    i32.and
    local.set $11
    global.get $assembly/layout/oOrder
    local.get $3
    i32.const 2
    i32.shl
    i32.add
    local.get $4
    i32.store
    local.get $3
    local.get $11
    i32.add
    local.set $3
    local.get $11
    if
     global.get $assembly/pod/shortestEligibleMs
     local.tee $11
     global.get $assembly/layout/oDuration
     local.get $10
     i32.add
     i32.load
     local.tee $10
     local.get $10
     local.get $11
     i32.gt_s
     select
     global.set $assembly/pod/shortestEligibleMs
    end
    local.get $4
    i32.const 1
    i32.add
    local.set $4
    br $for-loop|1
   end
  end
  global.get $assembly/layout/oOutHeader
  local.get $3
  i32.store offset=4
  global.get $assembly/layout/oOutHeader
  local.get $6
  i32.store offset=8
  local.get $3
 )
 (func $assembly/pod/assemblePod (param $0 i32) (param $1 i32) (param $2 i32) (param $3 f32) (param $4 i32) (result i32)
  (local $5 f32)
  (local $6 i32)
  (local $7 i32)
  (local $8 f32)
  (local $9 i32)
  (local $10 i32)
  (local $11 i32)
  (local $12 f32)
  (local $13 i32)
  (local $14 i32)
  (local $15 i32)
  (local $16 i32)
  (local $17 i32)
  local.get $0
  i32.eqz
  local.get $1
  i32.eqz
  i32.or
  if
   i32.const 0
   return
  end
  local.get $0
  local.get $1
  i32.const 1
  i32.shl
  i32.const 8
  i32.add
  local.tee $7
  local.get $0
  local.get $7
  i32.lt_s
  select
  local.set $7
  loop $for-loop|0
   local.get $6
   local.get $7
   i32.lt_s
   if
    local.get $6
    i32.const 2
    i32.shl
    local.tee $11
    global.get $assembly/layout/oTop
    i32.add
    global.get $assembly/layout/oOrder
    local.get $11
    i32.add
    i32.load
    i32.store
    local.get $6
    i32.const 1
    i32.add
    local.set $6
    br $for-loop|0
   end
  end
  local.get $7
  i32.const 1
  i32.shr_s
  i32.const 1
  i32.sub
  local.set $6
  loop $for-loop|1
   local.get $6
   i32.const 0
   i32.ge_s
   if
    global.get $assembly/layout/oTop
    local.get $6
    local.get $7
    i32.const 0
    call $assembly/pod/siftDown
    local.get $6
    i32.const 1
    i32.sub
    local.set $6
    br $for-loop|1
   end
  end
  global.get $assembly/layout/oRank
  global.get $assembly/layout/oTop
  i32.load
  i32.const 2
  i32.shl
  i32.add
  f32.load
  local.set $5
  local.get $7
  local.set $6
  loop $for-loop|2
   local.get $0
   local.get $6
   i32.gt_s
   if
    global.get $assembly/layout/oRank
    global.get $assembly/layout/oOrder
    local.get $6
    i32.const 2
    i32.shl
    i32.add
    i32.load
    local.tee $11
    i32.const 2
    i32.shl
    i32.add
    f32.load
    local.get $5
    f32.gt
    if
     global.get $assembly/layout/oTop
     local.tee $13
     local.get $11
     i32.store
     global.get $assembly/layout/oTop
     i32.const 0
     local.get $7
     i32.const 0
     call $assembly/pod/siftDown
     global.get $assembly/layout/oRank
     local.get $13
     i32.load
     i32.const 2
     i32.shl
     i32.add
     f32.load
     local.set $5
    end
    local.get $6
    i32.const 1
    i32.add
    local.set $6
    br $for-loop|2
   end
  end
  local.get $7
  i32.const 1
  i32.sub
  local.set $6
  loop $for-loop|3
   local.get $6
   i32.const 0
   i32.gt_s
   if
    global.get $assembly/layout/oTop
    local.tee $11
    i32.load
    local.set $13
    local.get $11
    global.get $assembly/layout/oTop
    local.get $6
    i32.const 2
    i32.shl
    i32.add
    local.tee $11
    i32.load
    i32.store
    local.get $11
    local.get $13
    i32.store
    global.get $assembly/layout/oTop
    i32.const 0
    local.get $6
    i32.const 0
    call $assembly/pod/siftDown
    local.get $6
    i32.const 1
    i32.sub
    local.set $6
    br $for-loop|3
   end
  end
  i32.const 0
  global.set $assembly/pod/cursorPosition
  local.get $7
  global.set $assembly/pod/cursorTop
  local.get $0
  global.set $assembly/pod/cursorEligible
  i32.const -1
  global.set $assembly/pod/cursorHeapSize
  call $assembly/pod/nextInOrder
  local.set $0
  loop $while-continue|0
   local.get $1
   local.get $9
   i32.gt_s
   local.get $0
   i32.const 0
   i32.ge_s
   i32.and
   if
    block $while-break|0
     call $assembly/pod/nextInOrder
     local.set $6
     local.get $0
     i32.const 2
     i32.shl
     local.tee $17
     global.get $assembly/layout/oDuration
     i32.add
     i32.load
     local.tee $13
     local.get $2
     local.get $10
     i32.sub
     i32.le_s
     local.tee $11
     if
      global.get $assembly/layout/oAdvertiser
      local.get $17
      i32.add
      i32.load
      local.set $14
      global.get $assembly/layout/oCategory
      local.get $17
      i32.add
      i32.load
      local.set $15
      i32.const 0
      local.set $7
      loop $for-loop|10
       local.get $7
       local.get $9
       i32.lt_s
       if
        block $for-break1
         global.get $assembly/layout/oOutIndex
         local.get $7
         i32.const 2
         i32.shl
         i32.add
         i32.load
         i32.const 2
         i32.shl
         local.tee $16
         global.get $assembly/layout/oAdvertiser
         i32.add
         i32.load
         local.get $14
         i32.eq
         if (result i32)
          i32.const 1
         else
          global.get $assembly/layout/oCategory
          local.get $16
          i32.add
          i32.load
          local.get $15
          i32.eq
         end
         if
          i32.const 0
          local.set $11
          br $for-break1
         end
         local.get $7
         i32.const 1
         i32.add
         local.set $7
         br $for-loop|10
        end
       end
      end
     end
     local.get $11
     if
      global.get $assembly/layout/oQuality
      local.get $17
      i32.add
      f32.load
      local.set $12
      global.get $assembly/layout/oValue
      local.get $17
      i32.add
      f32.load
      local.set $5
      local.get $4
      i32.eqz
      if
       local.get $6
       i32.const 0
       i32.lt_s
       if (result f32)
        local.get $3
       else
        global.get $assembly/layout/oRank
        local.get $6
        i32.const 2
        i32.shl
        i32.add
        f32.load
        local.get $12
        f32.div
        local.tee $8
        local.get $3
        f32.lt
        if
         local.get $3
         local.set $8
        end
        local.get $5
        local.get $8
        local.get $5
        local.get $8
        f32.lt
        select
       end
       local.set $5
      end
      local.get $9
      i32.const 2
      i32.shl
      local.tee $7
      global.get $assembly/layout/oOutIndex
      i32.add
      local.get $0
      i32.store
      global.get $assembly/layout/oOutPrice
      local.get $7
      i32.add
      local.get $5
      f32.store
      global.get $assembly/layout/oOutRank
      local.get $7
      i32.add
      global.get $assembly/layout/oRank
      local.get $17
      i32.add
      f32.load
      f32.store
      global.get $assembly/layout/oOutQuality
      local.get $7
      i32.add
      local.get $12
      f32.store
      global.get $assembly/layout/oOutRelevance
      local.get $7
      i32.add
      global.get $assembly/layout/oRelevance
      local.get $17
      i32.add
      f32.load
      f32.store
      local.get $9
      i32.const 1
      i32.add
      local.set $9
      global.get $assembly/pod/shortestEligibleMs
      local.get $2
      local.get $10
      local.get $13
      i32.add
      local.tee $10
      i32.sub
      i32.gt_s
      br_if $while-break|0
     end
     local.get $6
     local.set $0
     br $while-continue|0
    end
   end
  end
  local.get $9
 )
 (func $assembly/layout/regionOffset (param $0 i32) (result i32)
  global.get $assembly/layout/configured
  i32.eqz
  if
   i32.const -1
   return
  end
  block $case25|0
   block $case24|0
    block $case23|0
     block $case22|0
      block $case21|0
       block $case20|0
        block $case19|0
         block $case18|0
          block $case17|0
           block $case16|0
            block $case15|0
             block $case14|0
              block $case13|0
               block $case12|0
                block $case11|0
                 block $case10|0
                  block $case9|0
                   block $case8|0
                    block $case7|0
                     block $case6|0
                      block $case5|0
                       block $case4|0
                        block $case3|0
                         block $case2|0
                          block $case1|0
                           block $case0|0
                            local.get $0
                            br_table $case0|0 $case1|0 $case2|0 $case3|0 $case4|0 $case5|0 $case6|0 $case7|0 $case8|0 $case9|0 $case10|0 $case11|0 $case12|0 $case13|0 $case14|0 $case15|0 $case16|0 $case17|0 $case18|0 $case19|0 $case20|0 $case21|0 $case22|0 $case23|0 $case24|0 $case25|0
                           end
                           global.get $assembly/layout/oEmbeddings
                           return
                          end
                          global.get $assembly/layout/oDuration
                          return
                         end
                         global.get $assembly/layout/oAdvertiser
                         return
                        end
                        global.get $assembly/layout/oCategory
                        return
                       end
                       global.get $assembly/layout/oIntent
                       return
                      end
                      global.get $assembly/layout/oWeights
                      return
                     end
                     global.get $assembly/layout/oConfidence
                     return
                    end
                    global.get $assembly/layout/oScores
                    return
                   end
                   global.get $assembly/layout/oVeto
                   return
                  end
                  global.get $assembly/layout/oBid
                  return
                 end
                 global.get $assembly/layout/oPResponse
                 return
                end
                global.get $assembly/layout/oRelevance
                return
               end
               global.get $assembly/layout/oQuality
               return
              end
              global.get $assembly/layout/oValue
              return
             end
             global.get $assembly/layout/oRank
             return
            end
            global.get $assembly/layout/oOrder
            return
           end
           global.get $assembly/layout/oTop
           return
          end
          global.get $assembly/layout/oOutHeader
          return
         end
         global.get $assembly/layout/oOutIndex
         return
        end
        global.get $assembly/layout/oOutPrice
        return
       end
       global.get $assembly/layout/oOutRank
       return
      end
      global.get $assembly/layout/oOutQuality
      return
     end
     global.get $assembly/layout/oOutRelevance
     return
    end
    global.get $assembly/layout/oOutContribution
    return
   end
   global.get $assembly/layout/oEnd
   return
  end
  i32.const -1
 )
 (func $assembly/layout/configure (param $0 i32) (param $1 i32) (param $2 i32) (result i32)
  (local $3 i64)
  (local $4 i64)
  (local $5 i64)
  (local $6 i64)
  (local $7 i64)
  (local $8 i64)
  (local $9 i64)
  (local $10 i64)
  (local $11 i64)
  (local $12 i64)
  (local $13 i64)
  (local $14 i64)
  (local $15 i64)
  (local $16 i64)
  (local $17 i64)
  (local $18 i64)
  (local $19 i64)
  (local $20 i64)
  (local $21 i64)
  (local $22 i64)
  (local $23 i64)
  (local $24 i64)
  (local $25 i64)
  (local $26 i64)
  (local $27 i64)
  (local $28 i64)
  local.get $0
  i32.const 0
  i32.le_s
  local.get $0
  i32.const 1048576
  i32.gt_s
  i32.or
  if
   i32.const -1
   return
  end
  local.get $1
  i32.const 0
  i32.le_s
  local.get $1
  i32.const 4096
  i32.gt_s
  i32.or
  if
   i32.const -1
   return
  end
  local.get $2
  i32.const 0
  i32.lt_s
  local.get $2
  i32.const 256
  i32.gt_s
  i32.or
  if
   i32.const -1
   return
  end
  local.get $0
  i32.const 3
  i32.add
  i32.const -4
  i32.and
  i64.extend_i32_s
  local.tee $3
  local.get $1
  i32.const 3
  i32.add
  i32.const -4
  i32.and
  i64.extend_i32_s
  local.tee $4
  i64.mul
  i64.const 2
  i64.shl
  i64.const 1039
  i64.add
  i64.const -16
  i64.and
  local.tee $5
  local.get $3
  i64.const 2
  i64.shl
  local.tee $19
  i64.add
  i64.const 15
  i64.add
  i64.const -16
  i64.and
  local.set $6
  local.get $2
  i64.extend_i32_s
  local.tee $26
  i64.const 2
  i64.shl
  local.tee $11
  local.get $6
  local.get $19
  i64.add
  i64.const 15
  i64.add
  i64.const -16
  i64.and
  local.tee $7
  local.get $19
  i64.add
  i64.const 15
  i64.add
  i64.const -16
  i64.and
  local.tee $8
  local.get $4
  i64.const 2
  i64.shl
  i64.add
  i64.const 15
  i64.add
  i64.const -16
  i64.and
  local.tee $9
  i64.add
  i64.const 15
  i64.add
  i64.const -16
  i64.and
  local.tee $10
  local.get $11
  i64.add
  i64.const 15
  i64.add
  i64.const -16
  i64.and
  local.tee $27
  local.get $3
  local.get $26
  i64.mul
  i64.const 2
  i64.shl
  i64.add
  i64.const 15
  i64.add
  i64.const -16
  i64.and
  local.tee $11
  local.get $19
  i64.add
  i64.const 15
  i64.add
  i64.const -16
  i64.and
  local.tee $12
  local.get $19
  i64.add
  i64.const 15
  i64.add
  i64.const -16
  i64.and
  local.tee $13
  local.get $19
  i64.add
  i64.const 15
  i64.add
  i64.const -16
  i64.and
  local.tee $14
  local.get $19
  i64.add
  i64.const 15
  i64.add
  i64.const -16
  i64.and
  local.tee $15
  local.get $19
  i64.add
  i64.const 15
  i64.add
  i64.const -16
  i64.and
  local.tee $16
  local.get $19
  i64.add
  i64.const 15
  i64.add
  i64.const -16
  i64.and
  local.tee $17
  local.get $19
  i64.add
  i64.const 15
  i64.add
  i64.const -16
  i64.and
  local.tee $18
  local.get $19
  i64.add
  i64.const 15
  i64.add
  i64.const -16
  i64.and
  local.tee $28
  i64.const 175
  i64.add
  i64.const -16
  i64.and
  local.tee $19
  i64.const 31
  i64.add
  i64.const -16
  i64.and
  local.tee $20
  i64.const 79
  i64.add
  i64.const -16
  i64.and
  local.tee $21
  i64.const 79
  i64.add
  i64.const -16
  i64.and
  local.tee $22
  i64.const 79
  i64.add
  i64.const -16
  i64.and
  local.tee $23
  i64.const 79
  i64.add
  i64.const -16
  i64.and
  local.tee $24
  i64.const 79
  i64.add
  i64.const -16
  i64.and
  local.tee $25
  local.get $26
  i64.const 6
  i64.shl
  i64.add
  i64.const 79
  i64.add
  i64.const -16
  i64.and
  local.tee $26
  i64.const 2147418112
  i64.gt_u
  if
   i32.const -1
   return
  end
  local.get $26
  i64.const 65535
  i64.add
  i64.const 16
  i64.shr_u
  i32.wrap_i64
  local.tee $0
  memory.size
  local.tee $1
  i32.gt_s
  if (result i32)
   local.get $0
   local.get $1
   i32.sub
   memory.grow
   i32.const 0
   i32.lt_s
  else
   i32.const 0
  end
  if
   i32.const -2
   return
  end
  local.get $3
  i32.wrap_i64
  global.set $assembly/layout/capCandidates
  local.get $4
  i32.wrap_i64
  global.set $assembly/layout/capDimensions
  local.get $2
  global.set $assembly/layout/capAgents
  i32.const 1024
  global.set $assembly/layout/oEmbeddings
  local.get $5
  i32.wrap_i64
  global.set $assembly/layout/oDuration
  local.get $6
  i32.wrap_i64
  global.set $assembly/layout/oAdvertiser
  local.get $7
  i32.wrap_i64
  global.set $assembly/layout/oCategory
  local.get $8
  i32.wrap_i64
  global.set $assembly/layout/oIntent
  local.get $9
  i32.wrap_i64
  global.set $assembly/layout/oWeights
  local.get $10
  i32.wrap_i64
  global.set $assembly/layout/oConfidence
  local.get $27
  i32.wrap_i64
  global.set $assembly/layout/oScores
  local.get $11
  i32.wrap_i64
  global.set $assembly/layout/oVeto
  local.get $12
  i32.wrap_i64
  global.set $assembly/layout/oBid
  local.get $13
  i32.wrap_i64
  global.set $assembly/layout/oPResponse
  local.get $14
  i32.wrap_i64
  global.set $assembly/layout/oRelevance
  local.get $15
  i32.wrap_i64
  global.set $assembly/layout/oQuality
  local.get $16
  i32.wrap_i64
  global.set $assembly/layout/oValue
  local.get $17
  i32.wrap_i64
  global.set $assembly/layout/oRank
  local.get $18
  i32.wrap_i64
  global.set $assembly/layout/oOrder
  local.get $28
  i32.wrap_i64
  global.set $assembly/layout/oTop
  local.get $19
  i32.wrap_i64
  global.set $assembly/layout/oOutHeader
  local.get $20
  i32.wrap_i64
  global.set $assembly/layout/oOutIndex
  local.get $21
  i32.wrap_i64
  global.set $assembly/layout/oOutPrice
  local.get $22
  i32.wrap_i64
  global.set $assembly/layout/oOutRank
  local.get $23
  i32.wrap_i64
  global.set $assembly/layout/oOutQuality
  local.get $24
  i32.wrap_i64
  global.set $assembly/layout/oOutRelevance
  local.get $25
  i32.wrap_i64
  global.set $assembly/layout/oOutContribution
  local.get $26
  i32.wrap_i64
  global.set $assembly/layout/oEnd
  i32.const 1
  global.set $assembly/layout/configured
  i32.const 0
 )
 (func $assembly/kernel/decide (param $0 i32) (param $1 i32) (param $2 i32) (param $3 f32) (param $4 f32) (param $5 i32) (param $6 i32) (param $7 i32) (result i32)
  (local $8 i32)
  (local $9 v128)
  (local $10 i32)
  (local $11 i32)
  (local $12 i32)
  (local $13 i32)
  global.get $assembly/layout/configured
  i32.eqz
  if
   i32.const -3
   return
  end
  local.get $0
  i32.const 0
  i32.lt_s
  if (result i32)
   i32.const 1
  else
   global.get $assembly/layout/capCandidates
   local.get $0
   i32.const 3
   i32.add
   i32.const -4
   i32.and
   i32.lt_s
  end
  if
   i32.const -4
   return
  end
  local.get $1
  i32.const 0
  i32.lt_s
  if (result i32)
   i32.const 1
  else
   global.get $assembly/layout/capDimensions
   local.get $1
   i32.const 3
   i32.add
   i32.const -4
   i32.and
   i32.lt_s
  end
  if
   i32.const -4
   return
  end
  local.get $2
  i32.const 0
  i32.lt_s
  local.get $2
  global.get $assembly/layout/capAgents
  i32.gt_s
  i32.or
  if
   i32.const -4
   return
  end
  local.get $5
  i32.const 0
  i32.lt_s
  local.get $5
  i32.const 1
  i32.gt_s
  i32.or
  local.get $6
  i32.const 0
  i32.lt_s
  i32.or
  local.get $6
  i32.const 16
  i32.gt_s
  i32.or
  if
   i32.const -4
   return
  end
  local.get $0
  local.get $1
  i32.const 3
  i32.add
  i32.const -4
  i32.and
  call $assembly/scoring/computeRelevance
  local.get $0
  i32.const 3
  i32.add
  i32.const -4
  i32.and
  local.tee $11
  i32.const 2
  i32.shl
  local.set $13
  local.get $3
  f32x4.splat
  local.set $9
  loop $for-loop|0
   local.get $8
   local.get $13
   i32.lt_u
   if
    global.get $assembly/layout/oQuality
    local.get $8
    i32.add
    local.get $9
    global.get $assembly/layout/oRelevance
    local.get $8
    i32.add
    v128.load
    f32x4.mul
    v128.store
    local.get $8
    i32.const 16
    i32.add
    local.set $8
    br $for-loop|0
   end
  end
  global.get $assembly/layout/oScores
  local.set $1
  loop $for-loop|1
   local.get $2
   local.get $10
   i32.gt_s
   if
    local.get $10
    i32.const 2
    i32.shl
    local.tee $8
    global.get $assembly/layout/oWeights
    i32.add
    f32.load
    global.get $assembly/layout/oConfidence
    local.get $8
    i32.add
    f32.load
    f32.mul
    f32x4.splat
    local.set $9
    i32.const 0
    local.set $8
    loop $for-loop|2
     local.get $8
     local.get $13
     i32.lt_u
     if
      global.get $assembly/layout/oQuality
      local.get $8
      i32.add
      local.tee $12
      local.get $12
      v128.load
      local.get $9
      local.get $1
      local.get $8
      i32.add
      v128.load
      f32x4.mul
      f32x4.add
      v128.store
      local.get $8
      i32.const 16
      i32.add
      local.set $8
      br $for-loop|2
     end
    end
    local.get $1
    local.get $13
    i32.add
    local.set $1
    local.get $10
    i32.const 1
    i32.add
    local.set $10
    br $for-loop|1
   end
  end
  i32.const 0
  local.set $8
  loop $for-loop|3
   local.get $8
   local.get $13
   i32.lt_u
   if
    global.get $assembly/layout/oValue
    local.get $8
    i32.add
    global.get $assembly/layout/oBid
    local.get $8
    i32.add
    v128.load
    global.get $assembly/layout/oPResponse
    local.get $8
    i32.add
    v128.load
    f32x4.mul
    local.tee $9
    v128.store
    global.get $assembly/layout/oRank
    local.get $8
    i32.add
    local.get $9
    global.get $assembly/layout/oQuality
    local.get $8
    i32.add
    v128.load
    f32x4.mul
    v128.store
    local.get $8
    i32.const 16
    i32.add
    local.set $8
    br $for-loop|3
   end
  end
  local.get $0
  local.get $4
  local.get $7
  call $assembly/pod/collectEligible
  local.get $6
  local.get $7
  local.get $4
  local.get $5
  i32.const 1
  i32.eq
  call $assembly/pod/assemblePod
  local.set $1
  global.get $assembly/layout/oOutContribution
  local.set $5
  i32.const 0
  local.set $6
  loop $for-loop|00
   local.get $1
   local.get $6
   i32.gt_s
   if
    local.get $5
    local.get $3
    global.get $assembly/layout/oRelevance
    global.get $assembly/layout/oOutIndex
    local.get $6
    i32.const 2
    i32.shl
    i32.add
    i32.load
    local.tee $7
    i32.const 2
    i32.shl
    i32.add
    f32.load
    f32.mul
    f32.store
    local.get $5
    i32.const 4
    i32.add
    local.set $5
    i32.const 0
    local.set $0
    loop $for-loop|11
     local.get $0
     local.get $2
     i32.lt_s
     if
      local.get $5
      local.get $0
      i32.const 2
      i32.shl
      local.tee $8
      global.get $assembly/layout/oWeights
      i32.add
      f32.load
      global.get $assembly/layout/oConfidence
      local.get $8
      i32.add
      f32.load
      f32.mul
      global.get $assembly/layout/oScores
      local.get $0
      local.get $11
      i32.mul
      local.get $7
      i32.add
      i32.const 2
      i32.shl
      i32.add
      f32.load
      f32.mul
      f32.store
      local.get $5
      i32.const 4
      i32.add
      local.set $5
      local.get $0
      i32.const 1
      i32.add
      local.set $0
      br $for-loop|11
     end
    end
    local.get $6
    i32.const 1
    i32.add
    local.set $6
    br $for-loop|00
   end
  end
  global.get $assembly/layout/oOutHeader
  local.get $1
  i32.store
  local.get $1
 )
)
