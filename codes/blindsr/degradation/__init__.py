"""The degradation model: kernels, blur, subsampling, noise, JPEG, quantisation, PCA."""
