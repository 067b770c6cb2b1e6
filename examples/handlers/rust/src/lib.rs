//! A Chute handler in Rust, built as a cdylib with no crates:
//!
//!     cargo build --release   # target/release/libchute_rust_example.so
//!
//! The event is UTF-8 text; the response is the text reversed, prefixed with the request id's
//! first block. Invalid UTF-8 is a Handled error. Panics abort the process (`panic = "abort"`),
//! which the host reports as an Unhandled `Runtime.ExitError`, never unwinding into C.

mod chute;

use chute::*;
use std::ffi::CStr;
use std::os::raw::c_char;

static MODULE: chute_module_info = chute_module_info {
    struct_size: std::mem::size_of::<chute_module_info>() as u32,
    abi_major: CHUTE_ABI_MAJOR,
    abi_minor: CHUTE_ABI_MINOR,
    flags: CHUTE_FLAG_THREAD_SAFE,
    name: b"rust-reverse\0".as_ptr() as *const c_char,
    version: b"1.0.0\0".as_ptr() as *const c_char,
};

#[no_mangle]
pub extern "C" fn chute_module() -> *const chute_module_info {
    &MODULE
}

#[no_mangle]
pub unsafe extern "C" fn chute_handle(
    host: *const chute_host_api,
    call: *mut chute_call,
    _state: *mut std::ffi::c_void,
    event: *const u8,
    event_len: usize,
) -> i32 {
    let host = &*host;
    let bytes: &[u8] = if event_len == 0 { &[] } else { std::slice::from_raw_parts(event, event_len) };
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => {
            let message = format!("the event is not UTF-8: {error}\0");
            (host.set_error)(call, b"InvalidUtf8\0".as_ptr() as *const c_char, message.as_ptr() as *const c_char, std::ptr::null());
            return CHUTE_HANDLED_ERROR;
        }
    };
    if text == "panic" {
        panic!("the event asked for a panic");
    }
    let context = &*(host.context)(call);
    let request_id = CStr::from_ptr(context.request_id).to_string_lossy();
    let prefix = request_id.split('-').next().unwrap_or("");
    let reversed: String = text.chars().rev().collect();
    let response = format!("{prefix}:{reversed}");
    let line = format!("reversed {} characters", text.chars().count());
    (host.log)(call, CHUTE_LOG_INFO, line.as_ptr(), line.len());
    (host.write_response)(call, response.as_ptr(), response.len())
}
