import { useEffect, useRef } from 'react';
import QRCode from 'qrcode';

/**
 * Renders `text` as a QR code on a canvas (error correction M, 4-module quiet zone). The canvas
 * carries the text in `aria-label` for assistive technology and tests select it by `testId`.
 */
export function QrCode(props: { text: string; label: string; size?: number; testId?: string }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (!canvas.current) return;
    void QRCode.toCanvas(canvas.current, props.text, {
      errorCorrectionLevel: 'M',
      margin: 4,
      width: props.size ?? 260,
      color: { dark: '#111318', light: '#ffffff' },
    });
  }, [props.text, props.size]);
  return <canvas ref={canvas} className="qr" role="img" aria-label={props.label} data-testid={props.testId} />;
}
