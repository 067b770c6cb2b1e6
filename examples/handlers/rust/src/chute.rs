//! The Chute ABI 1.0 (runtime-api/chute.h) declared for Rust. Layouts are `repr(C)` and field for
//! field the header's; the host owns every pointer it passes, valid only during the call.
#![allow(non_camel_case_types, dead_code)]

use std::os::raw::c_char;

pub const CHUTE_ABI_MAJOR: u16 = 1;
pub const CHUTE_ABI_MINOR: u16 = 0;
pub const CHUTE_OK: i32 = 0;
pub const CHUTE_HANDLED_ERROR: i32 = 1;
pub const CHUTE_LOG_INFO: i32 = 2;
pub const CHUTE_FLAG_THREAD_SAFE: u32 = 0x1;

/// Opaque, host-owned.
#[repr(C)]
pub struct chute_call {
    _private: [u8; 0],
}

#[repr(C)]
pub struct chute_module_info {
    pub struct_size: u32,
    pub abi_major: u16,
    pub abi_minor: u16,
    pub flags: u32,
    pub name: *const c_char,
    pub version: *const c_char,
}

// The module info is immutable static data.
unsafe impl Sync for chute_module_info {}

#[repr(C)]
pub struct chute_context {
    pub struct_size: u32,
    pub attempt: u32,
    pub request_id: *const c_char,
    pub function_name: *const c_char,
    pub function_arn: *const c_char,
    pub function_version: *const c_char,
    pub deadline_ms: i64,
    pub memory_limit_mb: u32,
    pub reserved: u32,
}

#[repr(C)]
pub struct chute_host_api {
    pub struct_size: u32,
    pub write_response: unsafe extern "C" fn(call: *mut chute_call, data: *const u8, len: usize) -> i32,
    pub set_error: unsafe extern "C" fn(
        call: *mut chute_call,
        error_type: *const c_char,
        message: *const c_char,
        stack_trace: *const c_char,
    ) -> i32,
    pub log: unsafe extern "C" fn(call: *mut chute_call, level: i32, line: *const u8, len: usize),
    pub remaining_time_ms: unsafe extern "C" fn(call: *const chute_call) -> i64,
    pub is_cancelled: unsafe extern "C" fn(call: *const chute_call) -> i32,
    pub context: unsafe extern "C" fn(call: *const chute_call) -> *const chute_context,
}
