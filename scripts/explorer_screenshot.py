"""Screenshot of the kernel explorer's HTML page (the picture in the README), by headless Chromium.

    python scripts/explorer_screenshot.py --path results/MANet_s1_x4_demo_test/toy_dataset1/npz/toy1.npz \
        --x 150 --y 100 --out docs/kernel_explorer.png

Writes the page to a temporary folder, renders it with ``#x=..&y=..`` selecting a pixel, and
saves the PNG with OpenCV's strongest compression (the README's copy stays under 200 KB).
"""
import argparse
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--path', required=True, help='kernel-field .npz (test.py / infer.py --save_kernel)')
    p.add_argument('--out', default=str(ROOT / 'results' / 'kernel_explorer.png'),
                   help='PNG to write (default results/kernel_explorer.png; the README copy is docs/kernel_explorer.png)')
    p.add_argument('--x', type=int, default=None, help='SR pixel column to select (default: centre)')
    p.add_argument('--y', type=int, default=None, help='SR pixel row to select (default: centre)')
    p.add_argument('--size', default='1000x640', help='browser window WIDTHxHEIGHT (default 1000x640)')
    args = p.parse_args()

    import cv2
    from blindsr.explorer.field_file import load_kernel_field
    from blindsr.explorer.html_page import write_html
    from blindsr.utils.headless_browser import file_url, screenshot

    field = load_kernel_field(args.path)
    H, W = field.sr_size
    x = W // 2 if args.x is None else args.x
    y = H // 2 if args.y is None else args.y
    width, height = (int(v) for v in args.size.lower().split('x'))
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / 'explorer.html'
        write_html(field, page)
        shot = screenshot(file_url(page, f'x={x}&y={y}'), Path(tmp) / 'shot.png', size=(width, height))
        img = cv2.imread(str(shot), cv2.IMREAD_COLOR)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), img, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f'{out}: {img.shape[1]}x{img.shape[0]}, {out.stat().st_size / 1024:.0f} KB')


if __name__ == '__main__':
    main()
