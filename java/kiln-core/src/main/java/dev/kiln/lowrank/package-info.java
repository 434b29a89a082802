/**
 * Low-rank factorization: MatMul and Conv2D weights replaced by two thinner layers from a truncated SVD
 * ({@link dev.kiln.lowrank.LowRankFactorization}). The SVD ({@link dev.kiln.lowrank.Svd}) is LAPACK's dgesdd through
 * JavaCPP's OpenBLAS preset where it loads, EJML (pure Java) elsewhere, both in double precision.
 */
package dev.kiln.lowrank;
