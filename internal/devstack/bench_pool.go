package devstack

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// maxPoolErrors bounds the errors forEach returns; the rest are counted.
const maxPoolErrors = 10

// forEach calls fn(ctx, i) for i in [0, n) with at most workers calls at
// once, and returns the first maxPoolErrors errors joined (and how many
// more there were). It stops handing out work once ctx is done.
func forEach(ctx context.Context, n, workers int, fn func(ctx context.Context, i int) error) error {
	workers = max(1, min(workers, n))
	next := make(chan int)
	var (
		mu   sync.Mutex
		errs []error
		more int
		wg   sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for i := range next {
				if err := fn(ctx, i); err != nil {
					mu.Lock()
					if len(errs) < maxPoolErrors {
						errs = append(errs, err)
					} else {
						more++
					}
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		select {
		case next <- i:
			continue
		case <-ctx.Done():
		}
		break
	}
	close(next)
	wg.Wait()
	if more > 0 {
		errs = append(errs, fmt.Errorf("and %d more errors", more))
	}
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
