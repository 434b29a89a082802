/** Kiln: makes TensorFlow models ready to deploy and fast. */
package dev.kiln;
