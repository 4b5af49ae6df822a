"""Image and kernel quality metrics."""
from blindsr.metrics.color import bgr2ycbcr, rgb2ycbcr  # noqa: F401
from blindsr.metrics.kernel_metrics import kernel_field_psnr, kernel_mnc, kernel_psnr  # noqa: F401
from blindsr.metrics.psnr_ssim import (calculate_psnr, calculate_ssim, crop_border,  # noqa: F401
                                       lr_psnr_y, lr_ssim_y, psnr_y, ssim_y, to_y)
