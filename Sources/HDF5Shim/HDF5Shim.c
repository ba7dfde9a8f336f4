#include "HDF5Shim.h"
hid_t shim_H5T_NATIVE_FLOAT(void)  { return H5T_NATIVE_FLOAT; }
hid_t shim_H5T_NATIVE_DOUBLE(void) { return H5T_NATIVE_DOUBLE; }
hid_t shim_H5T_NATIVE_INT64(void)  { return H5T_NATIVE_INT64; }
hid_t shim_H5T_IEEE_F32LE(void)    { return H5T_IEEE_F32LE; }
hid_t shim_H5T_IEEE_F64LE(void)    { return H5T_IEEE_F64LE; }
hid_t shim_H5T_STD_I64LE(void)     { return H5T_STD_I64LE; }
unsigned shim_H5F_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }
unsigned shim_H5F_ACC_TRUNC(void)  { return H5F_ACC_TRUNC; }
