/**
 * Representative data for INT8 calibration and evaluation: NumPy .npy/.npz readers that stream along axis 0, an image
 * folder source, conversion to float32, shape adaptation against the model's inputs, and {@link
 * dev.kiln.data.RepresentativeData}, the one interface the calibrator reads batches from.
 */
package dev.kiln.data;
