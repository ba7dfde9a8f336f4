#pragma once
#include <hdf5.h>
// The H5T_NATIVE_* and H5F_ACC_* macros expand to H5open() calls and globals that Swift cannot import;
// these functions hand their values to Swift.
hid_t shim_H5T_NATIVE_FLOAT(void);
hid_t shim_H5T_NATIVE_DOUBLE(void);
hid_t shim_H5T_NATIVE_INT64(void);
hid_t shim_H5T_IEEE_F32LE(void);
hid_t shim_H5T_IEEE_F64LE(void);
hid_t shim_H5T_STD_I64LE(void);
unsigned shim_H5F_ACC_RDONLY(void);
unsigned shim_H5F_ACC_TRUNC(void);
