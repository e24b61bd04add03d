import { useEffect, useRef, useState } from 'react';
import jsQRModule from 'jsqr';
import { InlineError } from './Field.js';

/**
 * jsqr is a UMD bundle whose `module.exports` is the function itself, while its typings declare an
 * ES default export; under NodeNext typing the default import is typed as the namespace.
 */
const jsQR = jsQRModule as unknown as typeof jsQRModule.default;

/** Decodes the first QR code in an RGBA image, or returns null. */
function decodeQr(image: ImageData): string | null {
  return jsQR(image.data, image.width, image.height, { inversionAttempts: 'attemptBoth' })?.data ?? null;
}

/** Draws `source` into a scratch canvas (downscaled to at most `maxSide` px) and decodes it. */
function decodeFrom(source: CanvasImageSource, width: number, height: number, scratch: HTMLCanvasElement, maxSide = 1024): string | null {
  const scale = Math.min(1, maxSide / Math.max(width, height));
  scratch.width = Math.max(1, Math.round(width * scale));
  scratch.height = Math.max(1, Math.round(height * scale));
  const ctx = scratch.getContext('2d', { willReadFrequently: true });
  if (!ctx) return null;
  ctx.drawImage(source, 0, 0, scratch.width, scratch.height);
  return decodeQr(ctx.getImageData(0, 0, scratch.width, scratch.height));
}

/**
 * Live camera scanner: shows the video (getUserMedia) and decodes frames with jsQR until a code is
 * found, then stops the camera and reports the text.
 */
export function CameraScanner(props: { onResult(text: string): void; onCancel(): void }) {
  const video = useRef<HTMLVideoElement>(null);
  const [error, setError] = useState<string | null>(null);
  const [live, setLive] = useState(false);
  const { onResult } = props;

  useEffect(() => {
    let stream: MediaStream | null = null;
    let timer: ReturnType<typeof setInterval> | undefined;
    let done = false;
    const scratch = document.createElement('canvas');
    const stop = () => {
      done = true;
      clearInterval(timer);
      stream?.getTracks().forEach((t) => t.stop());
    };
    (async () => {
      if (!navigator.mediaDevices?.getUserMedia) {
        setError('This window has no access to a camera. Use "From image" instead.');
        return;
      }
      try {
        stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
      } catch {
        setError('The camera could not be opened. Check that it is connected and allowed, or use "From image".');
        return;
      }
      if (done || !video.current) return stop();
      video.current.srcObject = stream;
      await video.current.play().catch(() => undefined);
      setLive(true);
      timer = setInterval(() => {
        const v = video.current;
        if (!v || v.readyState < 2 || !v.videoWidth) return;
        const text = decodeFrom(v, v.videoWidth, v.videoHeight, scratch);
        if (text && !done) {
          stop();
          onResult(text);
        }
      }, 120);
    })();
    return stop;
  }, [onResult]);

  return (
    <div className="scanner">
      <div className="scanner-frame">
        <video ref={video} muted playsInline aria-label="Camera preview" data-testid="camera-video" />
        {live && <div className="scanner-reticle" aria-hidden="true" />}
        {!live && !error && <div className="scanner-placeholder">Starting camera…</div>}
      </div>
      {error && <InlineError>{error}</InlineError>}
      <div className="row-end">
        <button type="button" className="btn btn-secondary" onClick={props.onCancel}>
          Stop scanning
        </button>
      </div>
    </div>
  );
}

/** Decodes a QR code from an image file (PNG, JPEG, screenshot...). */
export async function decodeQrFile(file: File): Promise<string | null> {
  const url = URL.createObjectURL(file);
  try {
    const img = new Image();
    img.src = url;
    await img.decode();
    return decodeFrom(img, img.naturalWidth, img.naturalHeight, document.createElement('canvas'), 2048);
  } finally {
    URL.revokeObjectURL(url);
  }
}
