/**
 * Low-rank factorization: MatMul and Conv2D weights replaced by two thinner layers from a truncated SVD
 * ({@link dev.kiln.lowrank.LowRankFactorization}). The SVD is EJML's (pure Java, double precision), kiln-core's only
 * linear-algebra dependency.
 */
package dev.kiln.lowrank;
